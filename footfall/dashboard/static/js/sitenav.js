// The site switcher on every site page: the sites this user can open (GET /sites.json),
// and picking one opens the same view (dashboard, realtime, sessions, settings) of it.
const pick = document.getElementById('site-switcher');
if (pick) {
  const current = pick.dataset.siteId;
  const res = await fetch('/sites.json', { credentials: 'same-origin' });
  const { sites } = res.ok ? await res.json() : { sites: [] };
  if (sites.length > 1) {
    for (const s of sites) {
      const option = document.createElement('option');
      option.value = s.id;
      option.textContent = s.name;
      option.selected = s.id === current;
      pick.append(option);
    }
    pick.closest('label').hidden = false;
    pick.addEventListener('change', () => {
      const prefix = '/sites/' + encodeURIComponent(current);
      const rest = location.pathname.slice(prefix.length).split('/')[1] || '';
      // A visit's own page belongs to one site: the other site opens on its visit list.
      location.assign('/sites/' + encodeURIComponent(pick.value) + (rest ? '/' + rest : ''));
    });
  }
}
