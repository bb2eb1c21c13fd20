// Money as the server formats it (membership.donations.money.format_money): the currency's
// own digits, none when the amount is whole. Shared by the pages that refresh amounts.
window.formatMoney = (minor, currency, language) => {
  const code = currency.toUpperCase();
  const lang = `${language}-u-nu-latn`;  // Western digits, as Babel formats them on the server
  const digits = new Intl.NumberFormat(lang, { style: "currency", currency: code })
    .resolvedOptions().maximumFractionDigits;
  const major = minor / 10 ** digits;
  return new Intl.NumberFormat(lang, {
    style: "currency", currency: code,
    minimumFractionDigits: Number.isInteger(major) ? 0 : digits, maximumFractionDigits: digits,
  }).format(major).replace(/([A-Za-z]+[^\sA-Za-z0-9\u200e\u200f]+)/g, "$1\u200e");
};
