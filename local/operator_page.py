# ruff: noqa: E501 - an HTML/JS document kept verbatim
"""The operator page: one self-contained HTML document (no CDN) over the public API, nothing else.

It shows the active version, the versions with their status and key metrics, a model card (the card route's
HTML), feedback volume and live accuracy per day, the latest retraining runs with their current step and
outcome, and has buttons for retrain, evaluate, deploy and rollback. Every admin call is signed with SigV4 in
the browser (local.browser_signing).

Two ways to serve it:
- local mode serves it at `/` (local.http_front), same origin as the API, signing as local mode's `local` key;
- `python -m local.operator_page --api URL [--out FILE]` (make operator-page) writes it as one static file for
  a deployed stack: the page asks for AWS credentials to sign with, keeps them in the tab's sessionStorage
  only (gone when the tab closes), and calls the API at URL (which must allow the page's origin: CORS).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from local.browser_signing import SIGV4_JS

DEFAULT_OUT = Path("build") / "operator-page.html"
_REGION_IN_URL = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")

_PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ml-news-pipeline operator</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
header{background:#1d2430;color:#fff;padding:12px 24px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header b{font-size:18px}header .active{font-size:15px}header .active span{font-family:ui-monospace,Menlo,monospace;
font-size:20px;font-weight:700;color:#9fe3b5}header small{opacity:.7}
main{max-width:1200px;margin:0 auto;padding:12px 16px;display:grid;grid-template-columns:1fr 1fr;gap:14px}
section{background:#fff;border:1px solid #d9dde3;border-radius:6px;padding:10px 14px;min-width:0}
section.wide{grid-column:1/-1}h2{font-size:15px;margin:2px 0 8px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eef0f3}
td.num{font-variant-numeric:tabular-nums}code,.mono{font-family:ui-monospace,Menlo,monospace;font-size:12px}
button{padding:5px 12px;border:0;border-radius:4px;background:#1d2430;color:#fff;cursor:pointer;font-size:13px}
button:disabled{opacity:.4;cursor:default}button.small{padding:2px 8px;font-size:12px;background:#4a5568}
.status{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;background:#e2e8f0}
.s-active,.s-SUCCEEDED,.s-deployed,.s-completed{background:#c6f6d5}.s-rejected,.s-FAILED,.s-failed,.s-TIMED_OUT,.s-ABORTED{background:#fed7d7}
.s-RUNNING,.s-running,.s-pending,.s-candidate{background:#fefcbf}.s-retired{background:#e2e8f0}
#message{font-size:13px;margin-top:8px;min-height:18px}#message.error{color:#c0392b}
iframe{width:100%;height:560px;border:1px solid #d9dde3;border-radius:4px;background:#fff}
form.creds{display:flex;gap:8px;flex-wrap:wrap;align-items:end}form.creds label{font-size:12px;display:flex;flex-direction:column}
form.creds input{font-family:ui-monospace,Menlo,monospace;padding:4px;border:1px solid #c5cad3;border-radius:4px}
svg text{font-size:10px;fill:#4a5568}.muted{color:#718096;font-size:12px}
@media (max-width:900px){main{grid-template-columns:1fr}}
</style></head><body>
<header><b>ml-news-pipeline</b><div class="active">active version <span id="active-version" data-testid="active-version">&hellip;</span></div>
<small id="api-base"></small><small id="refreshed"></small></header>
<main>
<section class="wide" id="credentials" hidden><h2>AWS credentials (to sign the admin calls)</h2>
<form class="creds" id="creds-form"><label>access key id<input name="accessKeyId" required autocomplete="off"></label>
<label>secret access key<input name="secretAccessKey" type="password" required autocomplete="off"></label>
<label>session token (temporary credentials)<input name="sessionToken" type="password" autocomplete="off"></label>
<label>region<input name="region" required size="12"></label><button type="submit">Use for this tab</button>
<button type="button" id="forget-creds" class="small">Forget</button></form>
<p class="muted">Kept in this tab's sessionStorage only: never sent anywhere but as SigV4 signatures to the API, gone when the tab closes.
The identity needs <code>execute-api:Invoke</code> on the API's admin routes.</p></section>
<section class="wide"><h2>Actions</h2>
<button id="retrain" data-testid="retrain">Retrain now</button>
<label class="muted"><input type="checkbox" id="include-feedback" checked> with verified feedback</label>
<input id="hyperparameters" data-testid="hyperparameters" class="mono" size="40" placeholder='hyperparameters, JSON (optional): {"C": 8}'>
<button id="evaluate" data-testid="evaluate">Evaluate the active version</button>
<button id="rollback" data-testid="rollback" disabled>Roll back</button>
<div id="message" data-testid="message" role="status"></div></section>
<section><h2>Versions</h2><table id="versions" data-testid="versions"><thead><tr><th>version</th><th>status</th>
<th title="validation set">val acc</th><th title="validation set">val macro F1</th><th title="golden set, when the pipeline evaluated it">golden acc</th><th>created</th><th></th></tr></thead><tbody></tbody></table></section>
<section><h2>Retraining runs</h2><table id="runs" data-testid="runs"><thead><tr><th>job</th><th>status</th><th>current step</th><th>outcome</th><th>started</th></tr></thead>
<tbody></tbody></table><div id="evaluation" data-testid="evaluation" class="muted"></div></section>
<section class="wide"><h2>Feedback per day <span class="muted" id="feedback-summary" data-testid="feedback-summary"></span></h2>
<div id="feedback-chart" data-testid="feedback-chart"></div></section>
<section class="wide"><h2>Model card <span class="mono" id="card-version" data-testid="card-version"></span></h2>
<iframe id="card-frame" data-testid="card-frame" sandbox title="model card"></iframe></section>
</main>
<script>
const CONFIG=__CONFIG_JSON__;
__SIGV4_JS__
const CREDS_KEY='mlnews-operator-credentials';
let localCreds=null,cardVersion=null,cardPinned=false,polling=null,evaluationId=null,busy=false,startedJob=null,nextFull=0;
const finishedRuns=new Map();  // a run that ended never changes: its details are fetched once
const $=id=>document.getElementById(id);
function esc(value){return String(value??'').replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));}
function pct(value){return typeof value==='number'?(100*value).toFixed(1)+'%':'\u2013';}
function when(iso){return iso?iso.replace('T',' ').replace(/(\+00:00|Z)$/,''):'';}
function say(text,error){const m=$('message');m.textContent=text;m.className=error?'error':'';}
class ApiError extends Error{constructor(status,body){super('HTTP '+status+': '+(body&&(body.message||body.error)||JSON.stringify(body)));this.status=status;}}
async function credentials(){
 if(CONFIG.localKey){if(!localCreds){const s=await (await fetch(CONFIG.apiBase+'/_local/status')).json();
  localCreds={accessKeyId:'local',secretAccessKey:'local',region:s.region};}return localCreds;}
 const saved=sessionStorage.getItem(CREDS_KEY);if(saved)return JSON.parse(saved);
 $('credentials').hidden=false;throw new Error('enter AWS credentials to sign the admin calls');}
async function api(method,path,body){
 const url=CONFIG.apiBase+path;const text=body===undefined?'':JSON.stringify(body);
 const headers={'X-Correlation-ID':'operator-'+Date.now().toString(36)};
 if(text)headers['Content-Type']='application/json';
 if(path.startsWith('/api/v1/model/'))Object.assign(headers,await signRequest(method,url,text,await credentials()));
 let response;try{response=await fetch(url,{method,headers,body:text||undefined});}
 catch(e){throw new Error(method+' '+path+' did not get an answer the page may read: the API is unreachable, or refused the call '+
  'without CORS headers (API Gateway\'s own 403s have none: check the credentials, their region and execute-api:Invoke)');}
 const type=response.headers.get('Content-Type')||'';
 const data=type.includes('json')?await response.json():await response.text();
 if(!response.ok)throw new ApiError(response.status,data);return data;}
function rollbackTarget(versions){
 const retired=versions.filter(v=>v.retired_at&&v.status==='retired');
 retired.sort((a,b)=>a.retired_at<b.retired_at?1:a.retired_at>b.retired_at?-1:(a.version<b.version?1:-1));
 return retired.length?retired[0].version:null;}
async function loadVersions(){
 const data=await api('GET','/api/v1/model/versions');
 $('active-version').textContent=data.active_version||'none';
 const versions=[...data.versions].sort((a,b)=>a.version<b.version?1:-1);
 $('versions').tBodies[0].innerHTML=versions.map(v=>{const m=v.metrics||{};
  const golden=(((v.evaluation||{}).golden||{}).candidate||{}).accuracy;
  const deploy=v.status==='active'?'':'<button class="small" data-deploy="'+esc(v.version)+'" data-status="'+esc(v.status)+'">deploy</button> ';
  return '<tr data-version="'+esc(v.version)+'"><td class="mono">'+esc(v.version)+'</td><td><span class="status s-'+esc(v.status)+'" title="'+esc((v.reasons||[]).join('; '))+'">'+esc(v.status)+'</span></td>'+
   '<td class="num">'+pct(m.accuracy)+'</td><td class="num">'+pct(m.macro_f1)+'</td><td class="num">'+pct(golden)+'</td><td>'+esc(when(v.created_at))+'</td>'+
   '<td>'+deploy+'<button class="small" data-card="'+esc(v.version)+'">card</button></td></tr>';}).join('')||'<tr><td colspan="7" class="muted">no version registered yet</td></tr>';
 const target=rollbackTarget(data.versions);const rb=$('rollback');rb.disabled=!target;rb.dataset.target=target||'';
 rb.textContent=target?'Roll back to '+target:'Roll back (no previous version)';
 if(!cardPinned&&versions.length&&versions[0].version!==cardVersion)await loadCard(versions[0].version);}
async function loadCard(version){
 cardVersion=version;$('card-version').textContent=version+' \u2013 loading';
 try{$('card-frame').srcdoc=await api('GET','/api/v1/model/versions/'+encodeURIComponent(version)+'/card?format=html');
  $('card-version').textContent=version;}catch(e){$('card-version').textContent=version+': '+e.message;}}
function outcomeText(run){const o=run.outcome;if(o)return '<span class="status s-'+esc(o.status)+'">'+esc(o.status)+'</span> '+esc(o.version||'')+
  '<div class="muted">'+esc((o.reasons||[o.error,o.cause]).filter(Boolean).join('; ')).slice(0,300)+'</div>';
 if(run.error)return '<span class="status s-failed">failed</span> <span class="muted">'+esc(run.error.error||'')+'</span>';return '';}
async function loadRuns(){
 const list=(await api('GET','/api/v1/model/train?limit=5')).runs;
 // ListExecutions is eventually consistent on AWS: a run just started may not be listed yet
 if(startedJob&&!list.some(r=>r.job_id===startedJob))list.unshift({job_id:startedJob,status:'RUNNING'});else startedJob=null;
 const runs=await Promise.all(list.map(r=>finishedRuns.get(r.job_id)||api('GET','/api/v1/model/train/'+encodeURIComponent(r.job_id))
  .then(d=>{if(d.status!=='RUNNING')finishedRuns.set(r.job_id,d);return d;}).catch(()=>r)));
 $('runs').tBodies[0].innerHTML=runs.map(r=>'<tr data-job="'+esc(r.job_id)+'"><td class="mono">'+esc(r.job_id)+'</td><td><span class="status s-'+esc(r.status)+'">'+esc(r.status)+'</span></td>'+
  '<td class="step">'+esc(r.status==='RUNNING'?(r.current_step||'starting'):(r.current_step||''))+(r.training_job&&r.status==='RUNNING'&&r.training_job.secondary_status?' <span class="muted">('+esc(r.training_job.secondary_status)+')</span>':'')+'</td>'+
  '<td class="outcome">'+outcomeText(r)+'</td><td>'+esc(when(r.started_at))+'</td></tr>').join('')||'<tr><td colspan="5" class="muted">no retraining run yet</td></tr>';
 return runs.some(r=>r.status==='RUNNING');}
function chart(days){
 const W=1100,H=190,L=34,R=40,T=10,B=28,n=days.length,bw=(W-L-R)/Math.max(n,1);
 const most=Math.max(1,...days.map(d=>d.total));let svg='<svg viewBox="0 0 '+W+' '+H+'" width="100%" role="img" aria-label="feedback per day">';
 svg+='<text x="2" y="'+(T+8)+'">'+most+'</text><text x="2" y="'+(H-B)+'">0</text><text x="'+(W-R+4)+'" y="'+(T+8)+'">100%</text><text x="'+(W-R+4)+'" y="'+(H-B)+'">0%</text>';
 const points=[];days.forEach((d,i)=>{const h=(H-T-B)*d.total/most,x=L+i*bw;
  svg+='<rect x="'+(x+2)+'" y="'+(H-B-h)+'" width="'+Math.max(bw-4,1)+'" height="'+h+'" fill="#90cdf4"><title>'+esc(d.day)+': '+d.total+' feedback, '+pct(d.accuracy)+' correct '+
   esc(Object.entries(d.per_model_version).map(([v,c])=>v+' '+c.correct+'/'+c.total).join(', '))+'</title></rect>';
  if(d.accuracy!==null)points.push((x+bw/2)+','+(T+(H-T-B)*(1-d.accuracy)));
  if(i===0||i===n-1||i%7===0)svg+='<text x="'+(x+bw/2)+'" y="'+(H-8)+'" text-anchor="middle">'+esc(d.day.slice(5))+'</text>';});
 if(points.length)svg+='<polyline points="'+points.join(' ')+'" fill="none" stroke="#2f855a" stroke-width="2"/>'+points.map(p=>'<circle cx="'+p.split(',')[0]+'" cy="'+p.split(',')[1]+'" r="3" fill="#2f855a"/>').join('');
 return svg+'</svg><div class="muted">bars: feedback received per day (UTC); line: share of it the serving model had right (live accuracy)</div>';}
async function loadFeedback(){
 const [timeline,stats]=await Promise.all([api('GET','/api/v1/model/feedback/daily?days=14'),api('GET','/api/v1/feedback/stats')]);
 $('feedback-chart').innerHTML=chart(timeline.days);
 $('feedback-summary').textContent='\u2013 '+stats.total+' counted in all, '+pct(stats.accuracy)+' correct; live accuracy of '+(stats.active_model_version||'the active version')+': '+pct(stats.live_accuracy)+
  (stats.held_back?' ('+stats.held_back+' held back over a sender\'s daily limit)':'');}
async function loadEvaluation(){
 if(!evaluationId)return false;const e=await api('GET','/api/v1/model/evaluate/'+encodeURIComponent(evaluationId));
 const g=(e.golden||{}),f=(e.feedback||{});
 $('evaluation').innerHTML='evaluation <span class="mono">'+esc(e.evaluation_id)+'</span> of '+esc(e.version)+': <span class="status s-'+esc(e.status)+'">'+esc(e.status)+'</span>'+
  (e.status==='completed'?' golden set '+pct(g.accuracy)+' accuracy (n='+(g.n??0)+'), recent feedback '+pct(f.accuracy)+' (n='+(f.n??0)+')':'')+(e.error?' '+esc(e.error):'');
 return e.status==='pending'||e.status==='running';}
async function refresh(all){
 // while something runs only the runs and the evaluation are polled fast; versions and feedback every 15 s
 const full=all===true||!busy||Date.now()>=nextFull;
 try{const [running,evaluating]=await Promise.all([loadRuns(),loadEvaluation(),...(full?[loadVersions(),loadFeedback()]:[])]);
  if(full)nextFull=Date.now()+15000;
  $('refreshed').textContent='updated '+new Date().toLocaleTimeString();document.body.dataset.loaded='yes';
  // fast while something runs, and everything once more right after it ended (its outcome changed the versions)
  const wasBusy=busy;busy=running||evaluating;
  clearTimeout(polling);polling=setTimeout(refresh,busy?1500:wasBusy?100:15000);}
 catch(e){say(e.message,true);clearTimeout(polling);polling=setTimeout(refresh,15000);}}
async function act(label,work){say(label+'\u2026');try{say(await work());}catch(e){say(label+' failed: '+e.message,true);}refresh(true);}
$('retrain').onclick=()=>act('starting a retraining',async()=>{const body={include_feedback:$('include-feedback').checked};
 const hp=$('hyperparameters').value.trim();if(hp){try{body.hyperparameters=JSON.parse(hp);}catch(e){throw new Error('hyperparameters are not JSON: '+e.message);}}
 const r=await api('POST','/api/v1/model/train',body);startedJob=r.job_id;return 'retraining '+r.job_id+' started';});
$('evaluate').onclick=()=>act('starting an evaluation',async()=>{const r=await api('POST','/api/v1/model/evaluate',{});evaluationId=r.evaluation_id;return 'evaluating '+r.version+' ('+r.evaluation_id+')';});
async function deploy(version,status,reason){
 if(!confirm((reason==='rollback'?'Roll back to ':'Deploy ')+version+'?'))return;
 await act((reason==='rollback'?'rolling back to ':'deploying ')+version,async()=>{const r=await api('POST','/api/v1/model/deploy/'+encodeURIComponent(version),
  {reason:reason+' from the operator page',allow_rejected:status==='rejected'});return version+' is active (was '+(r.previous_version||'none')+')';});}
$('rollback').onclick=()=>deploy($('rollback').dataset.target,'retired','rollback');
$('versions').addEventListener('click',e=>{const b=e.target.closest('button');if(!b)return;
 if(b.dataset.deploy)deploy(b.dataset.deploy,b.dataset.status,'deploy');
 if(b.dataset.card){cardPinned=true;loadCard(b.dataset.card);}});
$('creds-form').addEventListener('submit',e=>{e.preventDefault();const f=new FormData(e.target);const c=Object.fromEntries(f.entries());
 if(!c.sessionToken)delete c.sessionToken;sessionStorage.setItem(CREDS_KEY,JSON.stringify(c));e.target.reset();$('credentials').hidden=true;say('credentials kept for this tab');refresh();});
$('forget-creds').onclick=()=>{sessionStorage.removeItem(CREDS_KEY);say('credentials forgotten');$('credentials').hidden=false;};
$('api-base').textContent=CONFIG.apiBase||location.origin;
if(!CONFIG.localKey){$('credentials').hidden=!!sessionStorage.getItem(CREDS_KEY);$('creds-form').elements.region.value=CONFIG.region||'';}
refresh();
</script></body></html>
"""


def operator_page(api_base: str = "", local_key: bool = True, region: str | None = None) -> str:
    """The page. `api_base`: the API's URL ("" = the page's own origin, as local mode serves it); `local_key`:
    sign as local mode's `local` key (region from /_local/status), else ask for credentials."""
    config = {"apiBase": api_base.rstrip("/"), "localKey": local_key, "region": region}
    # JSON inside <script>: "<" escaped so no value can close the element
    config_json = json.dumps(config).replace("<", "\\u003c")
    return _PAGE.replace("__SIGV4_JS__", SIGV4_JS).replace("__CONFIG_JSON__", config_json)


def region_of(api_url: str) -> str | None:
    """The region in an API Gateway URL (https://<id>.execute-api.<region>.amazonaws.com/<stage>)."""
    found = _REGION_IN_URL.search(api_url)
    return found.group(1) if found else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.operator_page",
        description="Write the operator page as one static HTML file that calls a deployed API "
        "(signs with credentials the user enters, kept for the tab's session only).",
    )
    parser.add_argument("--api", required=True, help="the API's base URL (the stack's ApiUrl output)")
    parser.add_argument("--region", help="default: the region in the API's URL")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    args = parser.parse_args(argv)
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", args.api):
        print(f"mlnews: --api must be an http(s) URL, got {args.api!r}", file=sys.stderr)
        return 2
    region = args.region or region_of(args.api)
    if not region:
        print("mlnews: --region is needed: the API's URL does not name one", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(operator_page(args.api, local_key=False, region=region), encoding="utf-8")
    print(f"wrote {args.out} (API {args.api.rstrip('/')}, region {region})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
