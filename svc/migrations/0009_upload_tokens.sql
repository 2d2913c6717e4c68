-- Resumable uploads on S3 (issue 13). An upload's bytes there are a multipart upload plus a tail
-- object, described by the storage backend's resume token (JSON: the multipart upload id, the
-- part size, each part's ETag, the tail's length). It is recorded with the offset after every
-- PATCH, in the same UPDATE, so any streamserver can take the upload up where the last
-- acknowledged PATCH left it. NULL on the local backend, whose file is its whole state.
-- MEDIUMTEXT: 10,000 parts (the S3 limit) of 34-character ETags is about 360 KB.
ALTER TABLE uploads ADD COLUMN storage_token MEDIUMTEXT NULL;
