// The model picker (issue 21.8): over each <select data-model-picker> (the chat
// composer's model, each compare column's) a button that opens a searchable list,
// grouped by provider, with the user's starred models first in their own group.
//
// Progressive: the select stays in the form and carries the value. Choosing here
// sets it and fires its "change" event, so everything that follows the model
// (the composer's controls from reasoning.accepts, a column's thinking/effort
// limits) runs as it does for the select itself; a select changed by other code
// (a test's select_option, a form reset) moves the button's text with it.
//
// ARIA: the APG "combobox with listbox popup" — the search box is the combobox,
// the listbox holds role=group sections of role=option rows, the active row is
// aria-activedescendant (focus stays in the box while arrows move). The star is
// not a control inside the option (options cannot hold one): a click on it, or
// Ctrl+D (⌘D) on the active row, toggles it; a starred row says "starred".
//
// Favourites live on the server (Preferences.favourite_models) so they follow the
// user to another browser; every picker on the page shares one list.
(function () {
  "use strict";

  let favourites = null;  // model ids as strings, in the order starred
  const pickers = [];
  let serial = 0;

  function csrfToken(select) {
    const field = (select.form && select.form.querySelector("input[name=csrfmiddlewaretoken]")) ||
      document.querySelector("input[name=csrfmiddlewaretoken]");
    if (field) return field.value;
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function starIcon(on) {
    // Inline SVG: same look in both themes (currentColor), no font glyph differences.
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "16");
    svg.setAttribute("height", "16");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M12 3.2l2.7 5.6 6.1.8-4.5 4.2 1.1 6.1L12 17l-5.4 2.9 1.1-6.1-4.5-4.2 6.1-.8z");
    path.setAttribute("fill", on ? "currentColor" : "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "1.6");
    path.setAttribute("stroke-linejoin", "round");
    svg.appendChild(path);
    return svg;
  }

  // What the select offers, read once: the options do not change while the page lives.
  function choicesOf(select) {
    return Array.prototype.map.call(select.options, function (o) {
      const provider = o.dataset.provider || (o.parentElement.tagName === "OPTGROUP" ? o.parentElement.label : "");
      return {
        value: o.value,
        label: o.textContent.trim(),
        provider: provider,
        haystack: (o.textContent + " " + provider + " " + (o.dataset.terms || "")).toLowerCase(),
      };
    });
  }

  function build(select) {
    const n = ++serial;
    const id = "model-picker-" + n;
    const choices = choicesOf(select);
    const picker = { select: select, choices: choices, active: -1, rows: [] };

    const box = el("div", "model-picker");
    const trigger = el("button", "picker-trigger");
    trigger.type = "button";
    trigger.id = id + "-button";
    trigger.setAttribute("aria-haspopup", "listbox");
    trigger.setAttribute("aria-expanded", "false");
    trigger.setAttribute("aria-controls", id + "-pop");
    // Named by its content ("Model: Sim"), never by a label: the select keeps the
    // "Model" label (forms, tests and the server's messages speak of it).
    trigger.append(el("span", "visually-hidden", "Model: "));
    const current = el("span", "picker-current");
    trigger.append(current);
    const caret = el("span", "picker-caret", "▾");
    caret.setAttribute("aria-hidden", "true");
    trigger.append(caret);

    const pop = el("div", "picker-pop");
    pop.id = id + "-pop";
    pop.hidden = true;
    const search = el("input", "picker-search");
    search.type = "text";
    search.id = id + "-search";
    search.setAttribute("role", "combobox");
    search.setAttribute("aria-autocomplete", "list");
    search.setAttribute("aria-expanded", "true");
    search.setAttribute("aria-controls", id + "-list");
    search.setAttribute("aria-label", "Search by name, provider or family");
    search.setAttribute("placeholder", "Search by name, provider or family…");
    search.setAttribute("autocomplete", "off");
    search.setAttribute("spellcheck", "false");
    const list = el("div", "picker-list");
    list.id = id + "-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Matches");
    const status = el("p", "picker-status");
    status.id = id + "-status";
    status.setAttribute("role", "status");
    const hint = el("p", "picker-hint muted", "↑↓ move · Enter choose · Esc close · Ctrl+D or ☆ star");
    pop.append(search, list, status, hint);
    box.append(trigger, pop);

    select.classList.add("picker-native");
    select.setAttribute("tabindex", "-1");
    select.setAttribute("aria-hidden", "true");
    select.after(box);

    Object.assign(picker, { box: box, trigger: trigger, current: current, pop: pop, search: search, list: list, status: status });
    pickers.push(picker);
    sync(picker);

    trigger.addEventListener("click", function () {
      if (pop.hidden) open(picker, ""); else close(picker, true);
    });
    trigger.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        open(picker, "");
      } else if (e.key.length === 1 && e.key !== " " && !e.ctrlKey && !e.metaKey && !e.altKey) {
        // Typing on the closed picker starts the search with that letter.
        e.preventDefault();
        open(picker, e.key);
      }
    });
    search.addEventListener("input", function () { render(picker, true); });
    search.addEventListener("keydown", function (e) { onKey(picker, e); });
    list.addEventListener("mousedown", function (e) { e.preventDefault(); });  // keep focus in the box
    list.addEventListener("click", function (e) {
      const row = e.target.closest("[role=option]");
      if (!row) return;
      if (e.target.closest(".picker-star")) { toggle(picker, row.dataset.value); return; }
      choose(picker, row.dataset.value);
    });
    select.addEventListener("change", function () { sync(picker); });
    if (select.form) {
      select.form.addEventListener("reset", function () { setTimeout(function () { sync(picker); }, 0); });
    }
    box.addEventListener("focusout", function (e) {
      if (!pop.hidden && !box.contains(e.relatedTarget)) close(picker, false);
    });
    return picker;
  }

  function sync(picker) {
    const o = picker.select.selectedOptions[0];
    picker.current.textContent = o ? o.textContent.trim() : "";
    picker.trigger.title = o ? o.textContent.trim() : "";
  }

  function open(picker, text) {
    picker.pop.hidden = false;
    picker.trigger.setAttribute("aria-expanded", "true");
    picker.box.classList.add("open");
    // The chat's composer sits at the foot of the screen: open upwards when there
    // is no room below.
    const r = picker.trigger.getBoundingClientRect();
    picker.box.classList.toggle("up", window.innerHeight - r.bottom < 320 && r.top > window.innerHeight - r.bottom);
    picker.search.value = text;
    render(picker, !!text);
    picker.search.focus();
  }

  function close(picker, refocus) {
    if (picker.pop.hidden) return;
    picker.pop.hidden = true;
    picker.trigger.setAttribute("aria-expanded", "false");
    picker.box.classList.remove("open", "up");
    picker.search.removeAttribute("aria-activedescendant");
    if (refocus) picker.trigger.focus();
  }

  function matches(choice, words) {
    return words.every(function (w) { return choice.haystack.indexOf(w) >= 0; });
  }

  // The list for the current search: starred models first, then each provider's.
  // `typed`: the search changed, so the first match becomes the active row.
  function render(picker, typed) {
    const query = picker.search.value.trim().toLowerCase();
    const words = query ? query.split(/\s+/) : [];
    const starred = favourites || [];
    const shown = picker.choices.filter(function (c) { return (c.value || !query) && matches(c, words); });
    const groups = [];
    const none = shown.filter(function (c) { return !c.value; });
    if (none.length) groups.push({ label: "", items: none });
    const favs = starred.map(function (v) { return shown.find(function (c) { return c.value === v; }); })
      .filter(Boolean);
    if (favs.length) groups.push({ label: "Favourites", items: favs, favourite: true });
    shown.forEach(function (c) {
      if (!c.value || starred.indexOf(c.value) >= 0) return;
      let g = groups.find(function (x) { return !x.favourite && x.label === c.provider && c.provider; });
      if (!g) { g = { label: c.provider, items: [] }; groups.push(g); }
      g.items.push(c);
    });

    const id = picker.list.id;
    const frag = document.createDocumentFragment();
    picker.rows = [];
    groups.forEach(function (g, gi) {
      const group = el("div", "picker-group" + (g.favourite ? " favourites" : ""));
      group.setAttribute("role", "group");
      if (g.label) {
        const head = el("div", "picker-group-label", g.label);
        head.id = id + "-g" + gi;
        head.setAttribute("role", "presentation");
        group.setAttribute("aria-labelledby", head.id);
        group.append(head);
      } else {
        group.setAttribute("aria-label", "None");
      }
      g.items.forEach(function (c) {
        const row = el("div", "picker-option");
        row.id = id + "-o" + picker.rows.length;
        row.setAttribute("role", "option");
        row.dataset.value = c.value;
        const selected = c.value === picker.select.value;
        row.setAttribute("aria-selected", selected ? "true" : "false");
        row.append(el("span", "picker-label", c.label));
        if (c.value) {
          const on = starred.indexOf(c.value) >= 0;
          if (g.favourite && c.provider) row.append(el("span", "picker-provider", c.provider));
          if (on) row.append(el("span", "visually-hidden", ", starred"));
          const star = el("span", "picker-star" + (on ? " on" : ""));
          star.title = on ? "Unstar" : "Star: show first";
          star.append(starIcon(on));
          row.append(star);
        }
        group.append(row);
        picker.rows.push(row);
      });
      frag.append(group);
    });
    picker.list.replaceChildren(frag);
    picker.list.hidden = !picker.rows.length;

    if (!picker.rows.length) {
      picker.status.textContent = "No model matches “" + picker.search.value.trim() + "”.";
      picker.status.classList.add("empty");
    } else {
      picker.status.textContent = query ? picker.rows.length + (picker.rows.length === 1 ? " match" : " matches") : "";
      picker.status.classList.remove("empty");
    }
    let active = -1;
    if (!typed) active = picker.rows.findIndex(function (r) { return r.dataset.value === picker.select.value; });
    setActive(picker, active >= 0 ? active : (picker.rows.length ? 0 : -1));
  }

  function setActive(picker, i) {
    picker.rows.forEach(function (r, k) { r.classList.toggle("active", k === i); });
    picker.active = i;
    if (i >= 0) {
      picker.search.setAttribute("aria-activedescendant", picker.rows[i].id);
      picker.rows[i].scrollIntoView({ block: "nearest" });
    } else {
      picker.search.removeAttribute("aria-activedescendant");
    }
  }

  function onKey(picker, e) {
    const n = picker.rows.length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (n) setActive(picker, ((picker.active < 0 ? (e.key === "ArrowDown" ? -1 : 0) : picker.active) + (e.key === "ArrowDown" ? 1 : -1) + n) % n);
    } else if (e.key === "PageDown" || e.key === "PageUp") {
      e.preventDefault();
      if (n) setActive(picker, e.key === "PageDown" ? n - 1 : 0);
    } else if (e.key === "Enter") {
      e.preventDefault();  // never the composer's submit
      if (picker.active >= 0) choose(picker, picker.rows[picker.active].dataset.value);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();  // not the page's Esc (it stops a streaming answer)
      close(picker, true);
    } else if ((e.ctrlKey || e.metaKey) && (e.key === "d" || e.key === "D")) {
      e.preventDefault();
      if (picker.active >= 0 && picker.rows[picker.active].dataset.value) toggle(picker, picker.rows[picker.active].dataset.value);
    } else if (e.key === "Tab") {
      close(picker, false);
    }
  }

  function choose(picker, value) {
    const changed = picker.select.value !== value;
    picker.select.value = value;
    close(picker, true);
    if (changed) {
      picker.select.dispatchEvent(new Event("input", { bubbles: true }));
      picker.select.dispatchEvent(new Event("change", { bubbles: true }));
    }
    sync(picker);
  }

  function rerender(keep) {
    pickers.forEach(function (p) {
      if (p.pop.hidden) return;
      const value = p.active >= 0 ? p.rows[p.active].dataset.value : null;
      render(p, false);
      const i = p.rows.findIndex(function (r) { return r.dataset.value === (keep && keep.picker === p ? keep.value : value); });
      if (i >= 0) setActive(p, i);
    });
  }

  function toggle(picker, value) {
    const before = favourites.slice();
    const on = favourites.indexOf(value) < 0;
    favourites = on ? favourites.concat([value]) : favourites.filter(function (v) { return v !== value; });
    rerender({ picker: picker, value: value });
    picker.status.textContent = on ? "Starred." : "Unstarred.";
    const body = new URLSearchParams({ model: value, on: on ? "1" : "0" });
    fetch(picker.select.dataset.favouritesUrl, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(picker.select) },
    }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    }).then(function (data) {
      favourites = (data.favourites || []).map(String);
      rerender({ picker: picker, value: value });
    }).catch(function () {
      favourites = before;
      rerender({ picker: picker, value: value });
      picker.status.textContent = "The star was not saved; try again.";
    });
  }

  function start() {
    document.querySelectorAll("select[data-model-picker]").forEach(function (select) {
      if (favourites === null) {
        favourites = (select.dataset.favourites || "").split(",").filter(Boolean);
      }
      build(select);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  // Other code may move focus to the (hidden) select: give it to the picker's button.
  document.addEventListener("focusin", function (e) {
    const t = e.target;
    if (t && t.matches && t.matches("select.picker-native") && t.nextElementSibling) {
      const trigger = t.nextElementSibling.querySelector(".picker-trigger");
      if (trigger) trigger.focus();
    }
  });
})();
