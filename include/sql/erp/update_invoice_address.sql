-- ERP contract (write): the address a case is sent with is put on the invoice.
-- Set-based: the new addresses are first loaded into the temporary table ink_stage_address.
UPDATE erp_invoice
SET addr_street = s.street, addr_postcode = s.postcode, addr_city = s.city
FROM ink_stage_address s
WHERE erp_invoice.invoice_id = s.id
