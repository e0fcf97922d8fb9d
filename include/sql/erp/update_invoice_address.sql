-- ERP contract (write): the address a case is sent with is put on the invoice.
UPDATE erp_invoice
SET addr_street = :street, addr_postcode = :postcode, addr_city = :city
WHERE invoice_id = :invoice_id
