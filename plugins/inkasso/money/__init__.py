"""Money across a case's whole life: amounts, the books of each case, the check that they close."""
