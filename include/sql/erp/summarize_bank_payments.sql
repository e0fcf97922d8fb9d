-- Bank import (read): what one bank file booked (as matched in ink_bank_payment_match), by kind,
-- and how many of its direct payments are on invoices at collection now (the agency is told of
-- those). Only the invoices at collection are joined: the planner can hash that few.
SELECT m.kind, COUNT(*) AS payments, SUM(m.amount) AS amount,
       SUM(CASE WHEN m.kind = 'direct' AND i.invoice_id IS NOT NULL THEN 1 ELSE 0 END)
           AS direct_at_collection
FROM ink_bank_payment_match m
LEFT JOIN erp_invoice i ON i.invoice_id = m.invoice_id AND i.status = 'at_collection'
GROUP BY m.kind
