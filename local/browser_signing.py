# ruff: noqa: E501 - JavaScript kept verbatim
"""SigV4 in the browser (Web Crypto): the one copy that the /docs page and the operator page both include.

`signRequest(method, url, body, creds)` returns the headers that sign a request for API Gateway's AWS_IAM
authorization (service execute-api) the way local.sigv4 checks and botocore signs: host and x-amz-date signed,
plus x-amz-security-token when the credentials carry a session token (temporary credentials), the payload
hashed, the encoded path encoded again. `creds` is {accessKeyId, secretAccessKey, sessionToken?, region}.
Web Crypto exists only in secure contexts: https, or http on 127.0.0.1 and localhost.
"""

SIGV4_JS = r"""const enc=new TextEncoder();
function hex(buf){return [...new Uint8Array(buf)].map(b=>b.toString(16).padStart(2,'0')).join('');}
async function sha256(text){return hex(await crypto.subtle.digest('SHA-256',enc.encode(text)));}
async function hmac(key,text){const k=await crypto.subtle.importKey('raw',typeof key==='string'?enc.encode(key):key,
 {name:'HMAC',hash:'SHA-256'},false,['sign']);return crypto.subtle.sign('HMAC',k,enc.encode(text));}
function quote(s){return encodeURIComponent(s).replace(/[!'()*]/g,c=>'%'+c.charCodeAt(0).toString(16).toUpperCase());}
async function sigv4(method,url,body,host,amzDate,region,key,secret,token){
 const u=new URL(url,'http://'+host);const day=amzDate.slice(0,8);
 const path=u.pathname.split('/').map(quote).join('/');
 const pairs=u.search?u.search.slice(1).split('&').map(p=>{const i=p.indexOf('=');return i<0?[p,'']:[p.slice(0,i),p.slice(i+1)];}):[];
 pairs.sort((a,b)=>a[0]<b[0]?-1:a[0]>b[0]?1:a[1]<b[1]?-1:a[1]>b[1]?1:0);
 const signed=[['host',host],['x-amz-date',amzDate]].concat(token?[['x-amz-security-token',token]]:[]);
 const names=signed.map(h=>h[0]).join(';');
 const canonical=[method,path,pairs.map(p=>p[0]+'='+p[1]).join('&'),...signed.map(h=>h[0]+':'+h[1]),'',
  names,await sha256(body)].join('\n');
 const scope=day+'/'+region+'/execute-api/aws4_request';
 const toSign=['AWS4-HMAC-SHA256',amzDate,scope,await sha256(canonical)].join('\n');
 let k=await hmac('AWS4'+secret,day);for(const part of [region,'execute-api','aws4_request'])k=await hmac(k,part);
 const headers={'X-Amz-Date':amzDate,'Authorization':'AWS4-HMAC-SHA256 Credential='+key+'/'+scope+
  ', SignedHeaders='+names+', Signature='+hex(await hmac(k,toSign))};
 if(token)headers['X-Amz-Security-Token']=token;
 return headers;}
async function signRequest(method,url,body,creds){
 if(!window.crypto||!crypto.subtle)throw new Error('signing needs Web Crypto: open this page over https, or on 127.0.0.1 or localhost');
 const amzDate=new Date().toISOString().replace(/[-:]/g,'').replace(/\.\d{3}/,'');
 return sigv4(method.toUpperCase(),url,body||'',new URL(url,location.href).host,amzDate,creds.region,
  creds.accessKeyId,creds.secretAccessKey,creds.sessionToken||null);}
"""
