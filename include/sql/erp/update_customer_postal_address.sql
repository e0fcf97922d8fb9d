-- ERP contract (write): the customer's postal address refreshed from the person register.
-- Set-based: the new addresses are first loaded into the temporary table ink_stage_address.
UPDATE erp_customer
SET postal_street = s.street, postal_postcode = s.postcode, postal_city = s.city,
    postal_source = 'register'
FROM ink_stage_address s
WHERE erp_customer.customer_id = s.id
