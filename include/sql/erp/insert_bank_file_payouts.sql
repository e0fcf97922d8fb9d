-- Bank import (write, the pipeline's ink_payout): the agency payouts of one bank file, in one
-- statement: its payments from an agreement's agency account (payout_agreement_id, as matched in
-- ink_bank_payment_match), with the erp_payment row each was recorded as. A bank-mode payout by
-- an invoice's KID ('collection') names the invoice's latest case with that agreement; a lump
-- payout ('agency_payout') names none. ``picked``: a payout given to its agreement by the account
-- alone though several agreements are paid from it (the report shows these).
INSERT INTO ink_payout (agreement_id, payment_id, amount, payment_date, picked, case_id)
SELECT m.payout_agreement_id, p.payment_id, p.amount, p.payment_date, m.payout_picked = 1,
       CASE WHEN p.kind = 'collection' THEN (
           SELECT MAX(k.case_id) FROM ink_case k
           WHERE k.invoice_id = p.invoice_id AND k.agreement_id = m.payout_agreement_id
       ) END
FROM ink_bank_payment_match m
JOIN erp_payment p ON p.bank_file = :bank_file AND p.payment_ref = m.payment_ref
WHERE m.payout_agreement_id IS NOT NULL
  AND p.client_id = :client_id
ORDER BY p.payment_id
