"""A self-contained HTML page around the SVG pages: panels side by side, one page of each shown at a
time (buttons and a page list), pan (drag) and zoom (wheel) by a small inline script that edits
each SVG's viewBox, double-click to reset, page stubs that jump to the page they name, and a find
box that opens the page holding a value (or op) and outlines its box. No external files or
network: the page works offline from disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from compiler.viz.svg import Fragment, Panel, page_svg

CSS = """
body{margin:0;font-family:DejaVu Sans,Verdana,Arial,sans-serif;font-size:13px;background:#f4f4f4}
header{padding:6px 10px;background:#263238;color:#fff}
.panels{display:flex;gap:8px;padding:8px}
.panel{flex:1;min-width:0;background:#fff;border:1px solid #ccc}
.bar{padding:4px 6px;border-bottom:1px solid #ddd;display:flex;gap:6px;align-items:center}
.page{display:none}.page.active{display:block}
.page svg{width:100%;height:calc(100vh - 110px);cursor:grab;display:block}
#find{margin-left:16px;width:260px}
.header-note{color:#ffcc80;font-size:12px;margin-top:2px}
.hit rect{stroke:#e00000 !important;stroke-width:4px !important}
"""

SCRIPT = """
(function(){
function box(svg){return svg.getAttribute('viewBox').split(' ').map(Number);}
function set(svg,b){svg.setAttribute('viewBox',b.join(' '));}
function zoomable(svg){
  var home=box(svg),drag=null;
  svg.addEventListener('wheel',function(e){
    e.preventDefault();var b=box(svg),r=svg.getBoundingClientRect();
    var k=e.deltaY<0?0.8:1.25,px=b[0]+(e.clientX-r.left)/r.width*b[2];
    var py=b[1]+(e.clientY-r.top)/r.height*b[3];
    set(svg,[px-(px-b[0])*k,py-(py-b[1])*k,b[2]*k,b[3]*k]);},{passive:false});
  svg.addEventListener('mousedown',function(e){drag=[e.clientX,e.clientY,box(svg)];});
  window.addEventListener('mouseup',function(){drag=null;});
  svg.addEventListener('mousemove',function(e){
    if(!drag)return;var r=svg.getBoundingClientRect(),b=drag[2];
    var s=Math.max(b[2]/r.width,b[3]/r.height);
    set(svg,[b[0]-(e.clientX-drag[0])*s,b[1]-(e.clientY-drag[1])*s,b[2],b[3]]);});
  svg.addEventListener('dblclick',function(){set(svg,home);});
}
function show(panel,k){
  var pages=panel.querySelectorAll('.page');k=Math.max(0,Math.min(pages.length-1,k));
  pages.forEach(function(p,i){p.classList.toggle('active',i===k);});
  panel.dataset.current=k;var sel=panel.querySelector('select');if(sel)sel.value=k;
}
document.querySelectorAll('.panel').forEach(function(panel){
  panel.querySelectorAll('svg').forEach(zoomable);
  var cur=function(){return Number(panel.dataset.current||0);};
  panel.querySelector('.prev').onclick=function(){show(panel,cur()-1);};
  panel.querySelector('.next').onclick=function(){show(panel,cur()+1);};
  panel.querySelector('select').onchange=function(e){show(panel,Number(e.target.value));};
  panel.querySelectorAll('.stub').forEach(function(s){
    s.addEventListener('click',function(){show(panel,Number(s.dataset.target));});});
  show(panel,0);
});
function find(q){
  q=q.trim().replace(/^%/,'');if(!q)return;
  document.querySelectorAll('.hit').forEach(function(h){h.classList.remove('hit');});
  document.querySelectorAll('.panel').forEach(function(panel){
    var all=Array.from(panel.querySelectorAll('.node,.io'));
    var hit=all.find(function(n){return n.dataset.name===q;})||
      all.find(function(n){return n.dataset.name.indexOf(q)>=0||n.dataset.op===q;});
    if(!hit)return;
    hit.classList.add('hit');show(panel,Number(hit.closest('.page').dataset.page));
  });
}
var finder=document.getElementById('find');
if(finder)finder.addEventListener('change',function(e){find(e.target.value);});
})();
"""


def _panel(panel: Panel, index: int, legend: Fragment, overlay: str) -> str:
    options = "".join(f'<option value="{k}">{escape(page.title)}</option>'
                      for k, page in enumerate(panel.pages))  # fmt: skip
    pages = "".join(
        f'<div class="page" data-page="{k}">{page_svg(page, legend, overlay, f"p{index}-{k}")}'
        "</div>"
        for k, page in enumerate(panel.pages)
    )
    return (
        f'<section class="panel" data-panel="{index}"><div class="bar">'
        f"<b>{escape(panel.title)}</b>"
        f'<button class="prev">&#9664;</button><select>{options}</select>'
        f'<button class="next">&#9654;</button>'
        f"<span>{len(panel.pages)} page(s) · wheel: zoom · drag: pan · double-click: reset"
        f"</span></div>{pages}</section>"
    )


def html_document(
    title: str, panels: Sequence[Panel], legend: Fragment, overlay: str, notes: Sequence[str] = ()
) -> str:
    """The whole page; every SVG page carries the legend; `notes` (the overlay's data source)
    also stand in the page header, where zooming never shrinks them."""
    body = "".join(_panel(p, i, legend, overlay) for i, p in enumerate(panels))
    lines = "".join(f'<div class="header-note">{escape(n)}</div>' for n in notes)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f'<header>{escape(title)}<input id="find" placeholder="find a value (%name) or an op">'
        f"{lines}</header>"
        f'<main class="panels">{body}</main><script>{SCRIPT}</script></body></html>\n'
    )
