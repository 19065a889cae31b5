"""Solidarity transport: a commune's social worker (CCAS) registers beneficiaries and books their
trips by phone; volunteer drivers declare when and where they drive, see the requests that fit and
accept them; trips are proven, reminded, counted and exported for the accounts."""
