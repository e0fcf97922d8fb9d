-- The corrections of one agreement not yet in a file, with what the agency knows the case by:
-- its own case reference (from the receipt) and the invoice number.
SELECT c.correction_id, c.case_id, k.agency_case_ref, i.invoice_no, c.correction_type,
       c.amount, c.correction_date
FROM ink_correction c
JOIN ink_case k ON k.case_id = c.case_id
JOIN erp_invoice i ON i.invoice_id = k.invoice_id
WHERE c.agreement_id = :agreement_id
  AND c.file_id IS NULL
ORDER BY c.correction_id
