-- Public sharing (privacy levels, descriptions, the public feed and search).
--
-- Videos that exist before this change were seen only by signed-in members, so they become
-- `unlisted`: nothing turns listed or searchable for the whole world without its owner's choice.
-- New videos default to `public` (the api always writes the value it chose anyway).
ALTER TABLE video_info
    ADD COLUMN visibility ENUM('public', 'unlisted', 'private') NOT NULL DEFAULT 'unlisted',
    ADD COLUMN description VARCHAR(5000) NOT NULL DEFAULT '',
    -- The words of name and description as the api tokenises them for search (api/src/search.rs):
    -- folded case and accents, a tag before every token so that none is shorter than the
    -- server's minimum token size or a stop word, and CJK text cut into single characters and
    -- overlapping pairs, since MariaDB has no ngram parser. Written with every create and edit.
    ADD COLUMN search_text TEXT NULL;
ALTER TABLE video_info ALTER COLUMN visibility SET DEFAULT 'public';
-- The public feed: newest public videos first.
CREATE INDEX ix_video_visibility_time ON video_info (visibility, create_time, id);
CREATE FULLTEXT INDEX ft_video_search ON video_info (search_text);
