-- ERP contract (write): an invoice whose case the agency rejected (staged in
-- tmp_inbound_receipt.reopen) leaves collection and comes back to a person: 'open' again and no
-- longer marked for collection, so the next dispatch does not send it back by itself.
UPDATE erp_invoice
SET status = 'open', marked_for_collection = FALSE
FROM tmp_inbound_receipt s
WHERE erp_invoice.invoice_id = s.invoice_id AND s.reopen AND erp_invoice.status = 'at_collection'
