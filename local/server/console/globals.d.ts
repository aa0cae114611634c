// The browser build of @dagrejs/dagre, loaded by index.html before console.js, as a global.
declare const dagre: typeof import('@dagrejs/dagre');
