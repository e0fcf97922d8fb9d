-- Bank import (read): the agency payouts one bank file recorded (few rows per file): lump
-- payouts ('agency_payout') and, in bank mode, payouts per invoice by its KID ('collection').
SELECT payment_id, payer_account, amount, payment_date, kind, invoice_id
FROM erp_payment
WHERE bank_file = :bank_file AND client_id = :client_id
  AND kind IN ('agency_payout', 'collection')
ORDER BY payment_id
