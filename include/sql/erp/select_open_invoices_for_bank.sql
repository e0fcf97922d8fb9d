-- Demo bank (read): invoices a debtor might pay by KID: open ones and ones at collection.
SELECT invoice_id, client_id, customer_id, kid, remaining_amount, status
FROM erp_invoice
WHERE client_id = :client_id AND status IN ('open', 'at_collection') AND remaining_amount > 0
ORDER BY invoice_id
