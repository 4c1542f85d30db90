/* cardshield hosted fields: card number rules for the frame (pure functions, no I/O).
 *
 * Loaded by the frame page before frame.js, on the cardshield origin only. Defines one
 * global, CardshieldRules, in the frame's own window.
 */
'use strict';

window.CardshieldRules = (function () {
  // Brands by prefix: [brand, low, high, lengths]; first match wins. Mirrors
  // cardshield.cards.brands.IIN_TABLE (a unit test keeps the two equal).
  const IIN_TABLE = /* iin-table */ [
    ["visa", "4", "4", [13, 16, 19]],
    ["mastercard", "51", "55", [16]],
    ["mastercard", "2221", "2720", [16]],
    ["amex", "34", "34", [15]],
    ["amex", "37", "37", [15]],
    ["discover", "6011", "6011", [16, 17, 18, 19]],
    ["discover", "644", "649", [16, 17, 18, 19]],
    ["discover", "65", "65", [16, 17, 18, 19]],
    ["discover", "622126", "622925", [16, 17, 18, 19]],
    ["jcb", "3528", "3589", [16, 17, 18, 19]],
    ["diners", "300", "305", [14, 15, 16]],
    ["diners", "3095", "3095", [14, 15, 16]],
    ["diners", "36", "36", [14, 15, 16]],
    ["diners", "38", "39", [14, 15, 16]],
    ["unionpay", "62", "62", [16, 17, 18, 19]],
    ["maestro", "50", "50", [12, 13, 14, 15, 16, 17, 18, 19]],
    ["maestro", "56", "69", [12, 13, 14, 15, 16, 17, 18, 19]]
  ] /* /iin-table */;

  function digitsOf(text) {
    return String(text).replace(/\D/g, '');
  }

  function luhnValid(digits) {
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let d = digits.charCodeAt(digits.length - 1 - i) - 48;
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    return digits.length > 0 && sum % 10 === 0;
  }

  function prefixMatches(row, digits) {
    const head = digits.slice(0, row[1].length);
    return head.length === row[1].length && row[1] <= head && head <= row[2];
  }

  // The row a (possibly partial) number starts like, ignoring length: for live typing.
  function brandForPrefix(digits) {
    return IIN_TABLE.find(function (row) { return prefixMatches(row, digits); }) || null;
  }

  // The row of a complete number: prefix and length must both fit (as cards.brand_for).
  function brandFor(digits) {
    return IIN_TABLE.find(function (row) {
      return prefixMatches(row, digits) && row[3].indexOf(digits.length) >= 0;
    }) || null;
  }

  // True while some brand could still match once more digits are typed.
  function couldMatch(digits) {
    return IIN_TABLE.some(function (row) {
      const n = Math.min(digits.length, row[1].length);
      const head = digits.slice(0, n);
      return row[1].slice(0, n) <= head && head <= row[2].slice(0, n);
    });
  }

  // The longest number any brand the digits start like can have (19 when none matches yet).
  function maxDigits(digits) {
    const lengths = [];
    for (const row of IIN_TABLE) {
      if (prefixMatches(row, digits)) lengths.push.apply(lengths, row[3]);
    }
    return lengths.length ? Math.max.apply(null, lengths) : 19;
  }

  // The length most cards of a brand have: past it, a failed Luhn check is final.
  function typicalLength(brand) {
    return brand === 'amex' ? 15 : brand === 'diners' ? 14 : 16;
  }

  function groupsFor(brand, length) {
    if (brand === 'amex') return [4, 6, 5];
    if (brand === 'diners' && length <= 14) return [4, 6, 4];
    return [4, 4, 4, 4, 3];
  }

  // Digits in groups as printed on the card: 4-4-4-4, Amex 4-6-5, 14-digit Diners 4-6-4.
  function formatNumber(digits, brand) {
    const parts = [];
    let i = 0;
    for (const size of groupsFor(brand, digits.length)) {
      if (i >= digits.length) break;
      parts.push(digits.slice(i, i + size));
      i += size;
    }
    if (i < digits.length) parts.push(digits.slice(i));
    return parts.join(' ');
  }

  return Object.freeze({
    IIN_TABLE: IIN_TABLE,
    digitsOf: digitsOf,
    luhnValid: luhnValid,
    brandFor: brandFor,
    brandForPrefix: brandForPrefix,
    couldMatch: couldMatch,
    maxDigits: maxDigits,
    typicalLength: typicalLength,
    formatNumber: formatNumber
  });
}());
