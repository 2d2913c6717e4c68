-- Jobs that are not about one video (the reconciler's `delete_object`) used to store an empty
-- string in `video_id`; they now store NULL, so that "no video" is said one way.
ALTER TABLE jobs MODIFY video_id CHAR(36) CHARACTER SET ascii NULL;
UPDATE jobs SET video_id = NULL WHERE video_id = '';
