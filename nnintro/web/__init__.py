"""The web face: `nnintro serve`'s HTTP API and its one self-contained page (page.html, no build step, no CDN)."""
