-- Bank import (read): what one bank file booked, by kind and by the paid invoice's status now.
SELECT p.kind, COALESCE(i.status, '') AS invoice_status, COUNT(*) AS payments,
       SUM(p.amount) AS amount
FROM erp_payment p
LEFT JOIN erp_invoice i ON i.invoice_id = p.invoice_id
WHERE p.bank_file = :bank_file AND p.client_id = :client_id
GROUP BY p.kind, COALESCE(i.status, '')
