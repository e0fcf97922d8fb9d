-- ERP contract (write): record the payments of one bank file in erp_payment, as matched by
-- create_bank_payment_match.sql (kinds explained there), in the file's order, in one statement.
-- Method 'collection' for a bank-mode agency paying an invoice by its KID, otherwise 'bank'.
INSERT INTO erp_payment (client_id, invoice_id, bank_file, payment_ref, payer_account, reference,
                         amount, payment_date, kind, method, booked_at)
SELECT :client_id, m.invoice_id, :bank_file, m.payment_ref, m.payer_account, m.reference,
       m.amount, m.payment_date, m.kind,
       CASE WHEN m.kind = 'collection' THEN 'collection' ELSE 'bank' END,
       :booked_at
FROM ink_bank_payment_match m
ORDER BY m.line
