-- Bank import (read): when the latest case on an invoice the file pays (ink_bank_payment_match)
-- was opened, read under the client's booking lock: the payments are stamped no earlier, so a
-- payment booked after a case was sent counts as such, whatever time the import started
-- (inkasso.stamps). Probes of ix_ink_case_invoice_id (2 ms for 2 000 invoices paid); for a file
-- paying 300 000 invoices PostgreSQL reads ink_case once instead (1.3 s at 3 million cases).
SELECT MAX(k.opened_at) AS opened_at
FROM ink_case k
WHERE k.invoice_id IN (SELECT invoice_id FROM ink_bank_payment_match WHERE invoice_id IS NOT NULL)
