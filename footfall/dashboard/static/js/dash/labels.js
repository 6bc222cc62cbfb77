// How a dimension's stored value reads on screen: a country code becomes its flag and its
// name in the browser's language (Intl.DisplayNames, no network), a device class is
// capitalised. Filters, URLs and CSV keep the stored value; only the text shown changes.

const EMPTY = '(none)';
let regionNames = null;

function countryName(code) {
  try {
    regionNames = regionNames || new Intl.DisplayNames(undefined, { type: 'region' });
    return regionNames.of(code) || code;
  } catch (e) {
    return code; // not a region code Intl knows (or no Intl.DisplayNames): the code itself
  }
}

/** The flag emoji of an ISO 3166 alpha-2 code: two regional indicator symbols. */
export function flag(code) {
  if (!/^[A-Z]{2}$/.test(code)) return '';
  return String.fromCodePoint(...[...code].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}

/** The text a person sees for `value` of dimension `dim`. */
export function displayValue(dim, value) {
  if (typeof value !== 'string' || value === '' || value === EMPTY) return value;
  if (dim === 'visit:country') {
    const code = value.toUpperCase();
    const mark = flag(code);
    return mark ? mark + ' ' + countryName(code) : value;
  }
  if (dim === 'visit:device') return value.charAt(0).toUpperCase() + value.slice(1);
  return value;
}
