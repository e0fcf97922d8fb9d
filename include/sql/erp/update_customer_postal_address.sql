-- ERP contract (write): the customer's postal address refreshed from the person register.
UPDATE erp_customer
SET postal_street = :street, postal_postcode = :postcode, postal_city = :city,
    postal_source = 'register'
WHERE customer_id = :customer_id
