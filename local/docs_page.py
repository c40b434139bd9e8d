# ruff: noqa: E501 - an HTML/JS document kept verbatim
"""The interactive API page served at /docs: one self-contained HTML document (no CDN; works offline).

It reads /openapi.json and renders a small form per operation (path parameters, query string, JSON body).
Requests to IAM routes are signed with SigV4 as local mode's `local` key (local.browser_signing, the way
local.sigv4 checks); the region comes from /_local/status.
"""

from local.browser_signing import SIGV4_JS

DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ml-news-pipeline local API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
header{background:#1d2430;color:#fff;padding:14px 24px}header small{opacity:.7}
main{max-width:980px;margin:0 auto;padding:16px}
details{background:#fff;border:1px solid #d9dde3;border-radius:6px;margin:10px 0}
summary{cursor:pointer;padding:10px 14px;font-family:ui-monospace,Menlo,monospace}
.m{display:inline-block;min-width:60px;font-weight:700;border-radius:4px;padding:2px 6px;color:#fff;text-align:center}
.get{background:#2f7ed8}.post{background:#2e9e5b}.put,.patch{background:#c98a0c}.delete{background:#c0392b}
.iam{font-size:12px;color:#8a4b00;margin-left:8px}
form{padding:0 14px 14px}label{display:block;font-size:13px;margin:8px 0 2px}
input,textarea{width:100%;box-sizing:border-box;font-family:ui-monospace,Menlo,monospace;font-size:13px;
padding:6px;border:1px solid #c5cad3;border-radius:4px}textarea{min-height:90px}
button{margin-top:10px;padding:6px 16px;border:0;border-radius:4px;background:#1d2430;color:#fff;cursor:pointer}
pre{background:#0f141b;color:#d7e0ea;padding:10px;border-radius:4px;overflow:auto;max-height:380px;font-size:12px}
</style></head><body>
<header><b>ml-news-pipeline</b> &middot; local API <small id="srv"></small></header>
<main><p>Every route of <code>template.yaml</code>, served by local mode. Requests go to the same handlers as on
AWS. Routes marked IAM need a SigV4 signature, here as on AWS: this page signs them with local mode's key
<code>local</code>. <a href="/openapi.json">openapi.json</a></p><div id="ops">Loading&hellip;</div></main>
<script>
let region=null;
function el(tag, attrs, text){const e=document.createElement(tag);Object.assign(e,attrs||{});
 if(text!==undefined)e.textContent=text;return e;}
function example(schema, comps, depth){depth=depth||0;if(!schema||depth>4)return null;
 if(schema.$ref){return example(comps[schema.$ref.split('/').pop()],comps,depth+1);}
 if(schema.example!==undefined)return schema.example;if(schema.default!==undefined)return schema.default;
 if(schema.anyOf)return example(schema.anyOf[0],comps,depth+1);
 if(schema.type==='object'||schema.properties){const o={};const req=schema.required||Object.keys(schema.properties||{});
  for(const k of req){if(schema.properties&&schema.properties[k])o[k]=example(schema.properties[k],comps,depth+1);}return o;}
 if(schema.type==='array')return [example(schema.items,comps,depth+1)];
 if(schema.type==='integer'||schema.type==='number')return 1;if(schema.type==='boolean')return true;
 return schema.enum?schema.enum[0]:'text';}
""" + SIGV4_JS + """async function send(path, method, form, out, iam){const t0=performance.now();let url=path;
 for(const inp of form.querySelectorAll('input[data-path]')){url=url.replace('{'+inp.dataset.path+'}',encodeURIComponent(inp.value));}
 const q=form.querySelector('input[name=query]');if(q&&q.value)url+='?'+q.value;
 const opts={method:method.toUpperCase(),headers:{'X-Correlation-ID':'docs-'+Date.now()}};
 const b=form.querySelector('textarea');if(b&&b.value.trim()){opts.body=b.value;opts.headers['Content-Type']='application/json';}
 out.textContent='...';try{if(iam){
  if(!region)region=(await (await fetch('/_local/status')).json()).region;
  Object.assign(opts.headers,await signRequest(opts.method,url,opts.body||'',{accessKeyId:'local',secretAccessKey:'local',region}));}
  const r=await fetch(url,opts);const txt=await r.text();let shown=txt;
  try{shown=JSON.stringify(JSON.parse(txt),null,2);}catch(e){}
  out.textContent=r.status+' '+r.statusText+'  ('+Math.round(performance.now()-t0)+' ms)\\n\\n'+shown;}
 catch(e){out.textContent='request failed: '+e;}}
fetch('/openapi.json').then(r=>r.json()).then(doc=>{const root=document.getElementById('ops');root.textContent='';
 document.getElementById('srv').textContent=(doc.servers&&doc.servers[0]?doc.servers[0].url:'');
 const comps=(doc.components||{}).schemas||{};
 for(const [path,item] of Object.entries(doc.paths||{})){for(const [method,op] of Object.entries(item)){
  const d=el('details');const s=el('summary');s.appendChild(el('span',{className:'m '+method},method.toUpperCase()));
  s.appendChild(document.createTextNode(' '+path+(op.summary&&op.summary!==method.toUpperCase()+' '+path?'  \\u2014 '+op.summary:'')));
  if(op.security)s.appendChild(el('span',{className:'iam'},'IAM'));d.appendChild(s);
  const f=el('form');for(const p of (op.parameters||[]).filter(p=>p.in==='path')){f.appendChild(el('label',{},p.name+' (path)'));
   f.appendChild(el('input',{value:'',required:true})).dataset.path=p.name;}
  f.appendChild(el('label',{},'query string (a=1&b=2)'));f.appendChild(el('input',{name:'query'}));
  if(op.requestBody){const c=(op.requestBody.content||{})['application/json']||{};f.appendChild(el('label',{},'JSON body'));
   const ta=el('textarea');const ex=c.example!==undefined?c.example:example(c.schema,comps);
   ta.value=ex===null?'{}':JSON.stringify(ex,null,2);f.appendChild(ta);}
  const out=el('pre',{},'');const btn=el('button',{type:'submit'},'Send');f.appendChild(btn);f.appendChild(out);
  f.addEventListener('submit',ev=>{ev.preventDefault();send(path,method,f,out,!!op.security);});d.appendChild(f);root.appendChild(d);}}})
 .catch(e=>{document.getElementById('ops').textContent='could not load /openapi.json: '+e;});
</script></body></html>
"""
