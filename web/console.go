package web

import "net/http"

// consoleRoutes registers the brand console's pages.
func (s *Server) consoleRoutes(mux *http.ServeMux) {}
