-- HMAC-SHA256 (RFC 2104) of a text (UTF-8) under the installation's key
-- (receipt_text_key: only the inner and outer pads are stored). Parked receipts
-- keep this of their `text:` instead of the text, which can be an OTP code.
CREATE OR REPLACE FUNCTION receipt_text_hmac(p_text text) RETURNS bytea LANGUAGE sql STABLE AS $$
    SELECT sha256(k.opad || sha256(k.ipad || convert_to(p_text, 'UTF8'))) FROM receipt_text_key k
$$;

