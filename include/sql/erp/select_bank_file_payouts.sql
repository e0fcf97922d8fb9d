-- Bank import (read): the agency payouts one bank file recorded (few rows per file).
SELECT payment_id, payer_account, amount, payment_date
FROM erp_payment
WHERE bank_file = :bank_file AND client_id = :client_id AND kind = 'agency_payout'
ORDER BY payment_id
