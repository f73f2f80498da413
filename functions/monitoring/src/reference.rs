//! Reference tables: the ISO 4217 currencies the bank accepts and the ISO 3166-1 alpha-2
//! codes. Kept as plain static tables (no dependency) because validation only needs
//! membership and the minor-unit exponent.

/// Accepted ISO 4217 codes with their minor-unit exponent. A record in any other
/// currency is rejected as `unknown_currency` (the bank settles only these).
pub const KNOWN_CURRENCIES: [(&str, u32); 28] = [
    ("EUR", 2),
    ("USD", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("JPY", 0),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("PLN", 2),
    ("CZK", 2),
    ("HUF", 2),
    ("AUD", 2),
    ("CAD", 2),
    ("NZD", 2),
    ("BRL", 2),
    ("MXN", 2),
    ("INR", 2),
    ("SGD", 2),
    ("ZAR", 2),
    ("CNY", 2),
    ("HKD", 2),
    ("KRW", 0),
    ("AED", 2),
    ("TRY", 2),
    ("ILS", 2),
    ("THB", 2),
    ("KWD", 3),
    ("BHD", 3),
];

/// The minor-unit exponent of an accepted currency.
pub fn currency_exponent(code: &str) -> Option<u32> {
    KNOWN_CURRENCIES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, e)| *e)
}

/// All 249 officially assigned ISO 3166-1 alpha-2 codes, space separated, sorted.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI \
BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE \
DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS \
GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW \
KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW \
MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO \
RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM \
TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// True if `code` is an assigned alpha-2 code (upper case).
pub fn country_known(code: &str) -> bool {
    code.len() == 2 && COUNTRIES.split(' ').any(|c| c == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_country_table_has_all_249_assigned_codes_sorted() {
        let codes: Vec<&str> = COUNTRIES.split(' ').collect();
        assert_eq!(codes.len(), 249);
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
    }
}
