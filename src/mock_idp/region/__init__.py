"""A synthetic regional directory of school accounts, and identities to query it with.

:func:`generate_directory` writes an import CSV (the columns of
``sso_bridge.importing.COLUMNS``) of school accounts in a region: realistic Russian name
frequencies, so namesakes occur (same full name, sometimes the same birth date too);
people with 2-3 accounts at different schools (duplicates, recorded with small
differences); the spelling and format variety of real exports (ё written as е, Latin
look-alike letters, capitals, decomposed Unicode, SNILS and passports in several formats,
the odd SNILS with wrong check digits). :func:`iter_directory` and :func:`directory_rows`
give the same rows without a file. :class:`QueryFactory` makes ESIA-like federated
identities for people in and out of the directory.

The same seed gives the same directory, byte for byte. ``python -m mock_idp.region
--accounts N --seed S --out file.csv`` writes one from the command line.
"""

from mock_idp.region.accounts import AccountWriter, duplicate_record
from mock_idp.region.cli import main
from mock_idp.region.directory import (
    Directory,
    Person,
    PersonFactory,
    Record,
    School,
    directory_rows,
    generate_directory,
    iter_directory,
    make_schools,
    namesake_figures,
)
from mock_idp.region.names import (
    CITIES,
    FEMALE_NAMES,
    MALE_NAMES,
    SCHOOL_KINDS,
    SURNAMES,
    TO_LATIN,
    Weighted,
    feminine_surname,
    patronymics,
    translit,
    words,
    zipf_weights,
)
from mock_idp.region.queries import ISSUER, QUERY_KINDS, Query, QueryFactory

__all__ = [
    "CITIES",
    "FEMALE_NAMES",
    "ISSUER",
    "MALE_NAMES",
    "QUERY_KINDS",
    "SCHOOL_KINDS",
    "SURNAMES",
    "TO_LATIN",
    "AccountWriter",
    "Directory",
    "Person",
    "PersonFactory",
    "Query",
    "QueryFactory",
    "Record",
    "School",
    "Weighted",
    "directory_rows",
    "duplicate_record",
    "feminine_surname",
    "generate_directory",
    "iter_directory",
    "main",
    "make_schools",
    "namesake_figures",
    "patronymics",
    "translit",
    "words",
    "zipf_weights",
]
