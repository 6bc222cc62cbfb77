// The visits list and a visit's timeline are rendered on the server; this gives their
// country and device cells the dashboard's wording (flag and country name, capitalised
// device class). The stored value stays in data-value.
import { displayValue } from './labels.js';

for (const cell of document.querySelectorAll('[data-dim][data-value]')) {
  cell.textContent = displayValue(cell.dataset.dim, cell.dataset.value);
}
