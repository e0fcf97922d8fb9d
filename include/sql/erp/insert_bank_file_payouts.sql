-- Bank import (write, the pipeline's ink_payout): the agency payouts of one bank file, in one
-- statement: its payments from an agreement's agency account (payout_agreement_id, as matched in
-- ink_bank_payment_match), with the erp_payment row each was recorded as. A bank-mode payout by
-- an invoice's KID ('collection') names the invoice's latest case with that agreement; a lump
-- payout ('agency_payout') names none. ``picked``: a payout given to its agreement by the account
-- alone though several agreements are paid from it (the report shows these).
-- Driven by the file's few payouts in the match table (which holds each payment's amount, date,
-- kind and invoice as recorded): each finds its erp_payment row by the unique (bank_file,
-- payment_ref). A join of erp_payment on bank_file instead let PostgreSQL, whose statistics do
-- not yet know the file's rows, scan the match table once per payment (27 s for 20 payouts in
-- a file of 20 000).
INSERT INTO ink_payout (agreement_id, payment_id, amount, payment_date, picked, case_id)
SELECT m.payout_agreement_id,
       (SELECT p.payment_id FROM erp_payment p
        WHERE p.bank_file = :bank_file AND p.payment_ref = m.payment_ref
          AND p.client_id = :client_id),
       m.amount, m.payment_date, m.payout_picked = 1,
       CASE WHEN m.kind = 'collection' THEN (
           SELECT MAX(k.case_id) FROM ink_case k
           WHERE k.invoice_id = m.invoice_id AND k.agreement_id = m.payout_agreement_id
       ) END
FROM ink_bank_payment_match m
WHERE m.payout_agreement_id IS NOT NULL
ORDER BY m.line
