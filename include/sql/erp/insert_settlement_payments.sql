-- ERP contract (write), settlement booking mode: one payment per settled closure record (staged
-- in tmp_inbound_closure), kind 'agency_settlement', method 'collection', bank_file the closure
-- file's name, payment_ref 'case:<case_id>', reference the agency's case reference.
INSERT INTO erp_payment (client_id, invoice_id, bank_file, payment_ref, reference, amount,
                         payment_date, kind, method, booked_at)
SELECT :client_id, s.invoice_id, :file_name, 'case:' || CAST(s.case_id AS VARCHAR(12)),
       SUBSTR(COALESCE(s.ref, ''), 1, 30), s.settled, s.closure_date, 'agency_settlement',
       'collection', :now
FROM tmp_inbound_closure s
WHERE s.settled > 0
ORDER BY s.seq
