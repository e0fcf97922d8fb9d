-- ERP contract (read): every invoice of a client marked for collection before the cutoff,
-- with its customer. Ineligible ones (paid, disputed, already at collection) are read too so
-- the dispatch can report why they were held back. open_case_id and earlier_case_id come from
-- the pipeline's table: an invoice that already had a case (closed, or rejected by the agency)
-- is never sent again automatically.
SELECT i.invoice_id, i.customer_id, i.invoice_no, i.invoice_date, i.due_date, i.currency,
       i.original_amount, i.remaining_amount, i.kid, i.reminder_count, i.status, i.disputed,
       i.addr_street, i.addr_postcode, i.addr_city, i.addr_changed_manually,
       c.customer_no, c.name AS debtor_name, c.is_organisation, c.national_id, c.country,
       c.postal_street, c.postal_postcode, c.postal_city, c.postal_source,
       c.billing_street, c.billing_postcode, c.billing_city,
       k.case_id AS open_case_id, e.earlier_case_id
FROM erp_invoice i
JOIN erp_customer c ON c.customer_id = i.customer_id
LEFT JOIN ink_case k ON k.invoice_id = i.invoice_id AND k.is_open = :yes
LEFT JOIN (
    SELECT invoice_id, MAX(case_id) AS earlier_case_id
    FROM ink_case
    WHERE is_open = :no
    GROUP BY invoice_id
) e ON e.invoice_id = i.invoice_id
WHERE i.client_id = :client_id
  AND i.marked_for_collection = :yes
  AND i.marked_at < :cutoff
ORDER BY i.customer_id, i.invoice_id
