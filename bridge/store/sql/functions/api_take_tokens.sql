-- Take up to p_want requests of the key's current one-minute window (the
-- database's clock, so API processes on several hosts agree). Returns how many
-- were granted (0 when the window is used up) and the seconds left in the
-- window. The row lock serialises concurrent takers; a window never grants more
-- than p_limit in total (docs/api.md).
CREATE OR REPLACE FUNCTION api_take_tokens(p_key bigint, p_want integer, p_limit integer,
                                OUT granted integer, OUT seconds_left double precision)
LANGUAGE plpgsql AS $$
DECLARE
    w timestamptz := date_trunc('minute', now());
    ws timestamptz;
    u integer;
BEGIN
    INSERT INTO api_rate_windows (key_id, window_start, used) VALUES (p_key, w, 0)
    ON CONFLICT (key_id) DO NOTHING;
    SELECT window_start, used INTO ws, u FROM api_rate_windows WHERE key_id = p_key FOR UPDATE;
    IF ws < w THEN
        u := 0;
    END IF;
    granted := greatest(0, least(p_want, p_limit - u));
    UPDATE api_rate_windows SET window_start = w, used = u + granted WHERE key_id = p_key;
    seconds_left := extract(epoch FROM (w + interval '1 minute') - now());
END $$;

