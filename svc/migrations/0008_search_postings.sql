-- Search by our own inverted index instead of InnoDB FULLTEXT (issue 10's latency goal): a
-- FULLTEXT query scores every matching row before it can sort, so a common word cost time in
-- proportion to its matches; a walk along this table's primary key stops after one page.
--
-- One row per distinct token of a video's name and description, as api/src/search.rs cuts them
-- (`w_<word>` and `w_<beginning>` for every beginning of a word from three characters on,
-- `c_<CJK character>`, `c_<CJK pair>`), `in_title` when the token comes from the name.
-- `create_time` is a copy of the video's (which never changes), so the primary key lists a
-- token's videos title first, then newest first: a results page is a backward range scan of
-- about the page's size, and "does this video hold that token" is a lookup of the whole key,
-- in the small part of the index that token occupies. `ux_search_video_term` is the index the
-- foreign key needs, and finds a video's postings when it is edited. The cascade drops a
-- video's postings whichever process deletes the row (the api, the scheduler's sweep).
CREATE TABLE search_postings (
    term VARCHAR(84) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    in_title BOOLEAN NOT NULL,
    create_time DATETIME(6) NOT NULL,
    video_id CHAR(36) CHARACTER SET ascii NOT NULL,
    PRIMARY KEY (term, in_title, create_time, video_id),
    UNIQUE KEY ux_search_video_term (video_id, term),
    CONSTRAINT fk_search_video FOREIGN KEY (video_id) REFERENCES video_info (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Which version of the tokeniser (`search::VERSION` in the api) wrote a video's postings; 0:
-- none yet. The api writes the current version with the postings on every create and edit, and
-- at start-up indexes the rows below it in the background (the videos that existed before this
-- migration, and all of them again when the tokeniser changes).
ALTER TABLE video_info
    DROP INDEX ft_video_search,
    DROP COLUMN search_text,
    ADD COLUMN search_version TINYINT UNSIGNED NOT NULL DEFAULT 0,
    ADD KEY ix_video_search_version (search_version);
