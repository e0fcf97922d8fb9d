-- The corrections reported in one file, with what the agency knows the case by: its own case
-- reference (from the receipt, may still be empty) and the invoice number.
SELECT c.correction_id, c.case_id, k.agency_case_ref, i.invoice_no, c.correction_type,
       c.amount, c.correction_date
FROM ink_correction c
JOIN ink_case k ON k.case_id = c.case_id
JOIN erp_invoice i ON i.invoice_id = k.invoice_id
WHERE c.file_id = :file_id
ORDER BY c.correction_id
