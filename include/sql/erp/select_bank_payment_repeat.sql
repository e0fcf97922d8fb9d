-- Bank import (staging): a payment reference the staged bank file holds more than once, with the
-- line it is first on (no row: every reference once). erp_payment keeps a reference once per file.
SELECT payment_ref, MIN(line) AS first_line
FROM ink_bank_payment_stage
GROUP BY payment_ref
HAVING COUNT(*) > 1
ORDER BY MIN(line)
LIMIT 1
