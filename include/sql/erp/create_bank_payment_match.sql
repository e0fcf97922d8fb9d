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
--   'unmatched'     everything else, for a person to allocate.
CREATE TEMPORARY TABLE ink_bank_payment_match AS
SELECT s.line, s.payment_ref, s.payer_account, s.reference, s.amount, s.payment_date,
       s.payout_agreement_id,
       CASE WHEN s.payout_agreement_id IS NULL OR a.booking_mode = 'bank' THEN m.invoice_id
       END AS invoice_id,
       CASE WHEN s.payout_agreement_id IS NOT NULL AND a.booking_mode = 'bank'
                 AND m.invoice_id IS NOT NULL THEN 'collection'
            WHEN s.payout_agreement_id IS NOT NULL THEN 'agency_payout'
            WHEN m.invoice_id IS NOT NULL THEN 'direct'
            ELSE 'unmatched' END AS kind
FROM ink_bank_payment_stage s
LEFT JOIN ink_agreement a ON a.agreement_id = s.payout_agreement_id
LEFT JOIN (
    SELECT kid, currency, MIN(invoice_id) AS invoice_id
    FROM erp_invoice
    WHERE client_id = :client_id
      AND kid IN (SELECT reference FROM ink_bank_payment_stage WHERE reference <> '')
    GROUP BY kid, currency
) m ON m.kid = s.reference AND m.currency = s.currency
