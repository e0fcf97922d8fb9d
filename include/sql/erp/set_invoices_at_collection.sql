-- ERP contract (write): the invoices a dispatch sent go "at collection" and leave the marked
-- list; each gets the address its case was sent with, where that differs (NULL: unchanged).
-- Set-based: the invoices are first loaded into the temporary table ink_stage_sent, then one
-- statement per file.
UPDATE erp_invoice
SET status = 'at_collection', marked_for_collection = :no,
    addr_street = COALESCE(s.street, erp_invoice.addr_street),
    addr_postcode = COALESCE(s.postcode, erp_invoice.addr_postcode),
    addr_city = COALESCE(s.city, erp_invoice.addr_city)
FROM ink_stage_sent s
WHERE erp_invoice.invoice_id = s.invoice_id
  AND erp_invoice.status = 'open'
