// Starts Swagger UI on /docs over the server's own OpenAPI document. A file, not an
// inline script, because the page's Content-Security-Policy allows scripts from this
// origin only. validatorUrl: null keeps Swagger UI from sending the document to
// validator.swagger.io for its badge.
(function () {
  var root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: root.getAttribute('data-url'),
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    docExpansion: 'list',
    tryItOutEnabled: false,
  });
})();
