"""Routers, one per resource; each route only translates and calls one service."""
