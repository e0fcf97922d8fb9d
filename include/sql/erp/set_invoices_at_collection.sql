-- ERP contract (write): the invoices of the cases opened by one file go "at collection" and
-- leave the marked list. Set-based: one statement per file.
UPDATE erp_invoice
SET status = 'at_collection', marked_for_collection = :no
WHERE invoice_id IN (SELECT invoice_id FROM ink_case WHERE file_id = :file_id)
  AND status = 'open'
