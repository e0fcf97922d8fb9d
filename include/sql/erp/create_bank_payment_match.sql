-- Bank import (staging): every staged payment of one bank file with its match, worked out once in
-- one set-based statement and kept in a temporary table, so recording the payments, applying them
-- to invoices and counting them read it instead of joining the ERP's tables again.
-- The payment's invoice is the client's invoice whose KID is its reference and whose currency is
-- the payment's (the lowest id when two share one): a payment in another currency (a EUR deposit
-- of a BgMax file) is never taken off an invoice in öre, it waits unmatched. kind:
--   'collection'    the payer account is a bank-mode agreement's agency and the reference is an
--                   invoice's KID: the agency paying what it collected on that invoice (method
--                   'collection'; booked on the invoice, never reported back as a direct payment);
--   'agency_payout' any other payment from an agency's account: a lump settlement that clears the
--                   interim account (settlement mode), not a payment on an invoice;
--   'direct'        the reference is an invoice's KID (the debtor paid the creditor);
--   'unmatched'     everything else, for a person to allocate (and, after this statement, a
--                   reversal of more than its invoice was ever paid: unmatch_reversals_beyond_paid.sql).
-- A payout's agreement: the staged one (payout_agreement_id, by the payer account) unless several
-- agreements are paid from that account (ink_bank_payout_group: an old and a new agreement with
-- one agency); then the agreement of the paid invoice's latest case among them. A payout that
-- names no such invoice (a lump without KID) keeps the staged one, picked by the account alone:
-- payout_picked = 1 says so.
CREATE TEMPORARY TABLE ink_bank_payment_match AS
SELECT s.line, s.payment_ref, s.payer_account, s.reference, s.amount, s.payment_date,
       a.agreement_id AS payout_agreement_id,
       CASE WHEN a.agreement_id IS NULL OR a.booking_mode = 'bank' THEN m.invoice_id
       END AS invoice_id,
       CASE WHEN a.agreement_id IS NOT NULL AND a.booking_mode = 'bank'
                 AND m.invoice_id IS NOT NULL THEN 'collection'
            WHEN a.agreement_id IS NOT NULL THEN 'agency_payout'
            WHEN m.invoice_id IS NOT NULL THEN 'direct'
            ELSE 'unmatched' END AS kind,
       CASE WHEN c.case_id IS NULL AND s.payout_agreement_id IN (
                SELECT payout_agreement_id FROM ink_bank_payout_group
                WHERE agreement_id <> payout_agreement_id
            ) THEN 1 ELSE 0 END AS payout_picked
FROM ink_bank_payment_stage s
LEFT JOIN (
    SELECT kid, currency, MIN(invoice_id) AS invoice_id
    FROM erp_invoice
    WHERE client_id = :client_id
      AND kid IN (SELECT reference FROM ink_bank_payment_stage WHERE reference <> '')
    GROUP BY kid, currency
) m ON m.kid = s.reference AND m.currency = s.currency
LEFT JOIN (
    -- per staged payout agreement and invoice paid by KID: the invoice's latest case with an
    -- agreement paid from the same account (only the invoices the file's payouts name)
    SELECT g.payout_agreement_id, k.invoice_id, MAX(k.case_id) AS case_id
    FROM ink_bank_payout_group g
    JOIN ink_case k ON k.agreement_id = g.agreement_id
    WHERE k.invoice_id IN (
        SELECT invoice_id FROM erp_invoice
        WHERE client_id = :client_id
          AND kid IN (SELECT reference FROM ink_bank_payment_stage
                      WHERE payout_agreement_id IS NOT NULL AND reference <> '')
    )
    GROUP BY g.payout_agreement_id, k.invoice_id
) c ON c.payout_agreement_id = s.payout_agreement_id AND c.invoice_id = m.invoice_id
LEFT JOIN ink_case kc ON kc.case_id = c.case_id
LEFT JOIN ink_agreement a ON a.agreement_id = COALESCE(kc.agreement_id, s.payout_agreement_id)
