-- Text XML 1.0 cannot carry never reaches a document.
--
-- Ingest refuses C0 controls (other than tab, LF, CR), U+FFFE and U+FFFF in every field, but a
-- row written before that rule, or by any other path, must not make a Resource List, Change
-- List, sealed page, dump manifest or notification ill-formed for ever. `headwater_xml_esc`
-- now drops those characters (as `sitemaps/format.py` `esc` does, byte for byte). PostgreSQL
-- text holds no NUL and no surrogate, so these are all it has to drop. The regex test first:
-- translate() over every value costs ten times the five replace() calls, the test almost
-- nothing.

CREATE OR REPLACE FUNCTION headwater_xml_esc(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT replace(replace(replace(replace(replace(
        CASE WHEN value ~ U&'[\0001-\0008\000B\000C\000E-\001F\FFFE\FFFF]'
             THEN translate(value, U&'\0001\0002\0003\0004\0005\0006\0007\0008\000B\000C\000E'
                                   || U&'\000F\0010\0011\0012\0013\0014\0015\0016\0017\0018'
                                   || U&'\0019\001A\001B\001C\001D\001E\001F\FFFE\FFFF', '')
             ELSE value END,
        '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;')
$$;

-- Fragments already rendered with such characters are rendered again, and the instance id
-- changes so that ETags and sealed pages cached on disk (named by it) are not reused.
DO $$
DECLARE
    bad CONSTANT text := U&'[\0001-\0008\000B\000C\000E-\001F\FFFE\FFFF]';
    n bigint := 0;
    m bigint := 0;
BEGIN
    UPDATE resources SET url_xml = NULL WHERE NOT deleted AND url_xml ~ bad;  -- trigger renders
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE changes SET url_xml = headwater_change_url(uri, change, datetime, lastmod, md5, sha1,
                                                      sha256, length, type)
    WHERE url_xml ~ bad;
    GET DIAGNOSTICS m = ROW_COUNT;
    IF n + m > 0 THEN
        UPDATE meta SET value = gen_random_uuid()::text WHERE key = 'instance_id';
    END IF;
END;
$$;
