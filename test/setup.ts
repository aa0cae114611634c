import '../local/runtime/polyfills';

// These machines run Node 20 while the deployed functions run Node 24; the SDK's notice about it is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
