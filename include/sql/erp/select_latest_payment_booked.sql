-- ERP contract (read): when the client's latest payment was booked (erp_payment.booked_at), read
-- by the dispatch under the client's booking lock: the cases it opens are stamped later, so every
-- payment the dispatch could see counts as booked before the case was sent (inkasso.stamps).
-- Once per agreement dispatched: a scan of erp_payment (about 0.25 s at 3 million payments on
-- PostgreSQL), or one probe of an index on erp_payment (client_id, booked_at) where the ERP has
-- one (under 1 ms).
SELECT MAX(booked_at) AS booked_at
FROM erp_payment
WHERE client_id = :client_id
