"""The OpenAPI 3 document of the partner API, served at /api/partners/v1/openapi.json."""

from __future__ import annotations


def _error(description: str, codes: list[str], fields: bool = False) -> dict:
    schema = {"$ref": "#/components/schemas/ValidationError" if fields else "#/components/schemas/Error"}
    return {
        "description": description + " (error: " + ", ".join(codes) + ")",
        "content": {"application/json": {"schema": schema}},
    }


_COMMON = {
    "401": _error("No valid API key", ["unauthorized"]),
    "429": {
        **_error("Rate-limited: retry after Retry-After seconds", ["rate_limited"]),
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    },
    "503": {
        **_error(
            "The database is busy (a lock held past a few seconds) or unreachable; nothing was changed: "
            "retry after Retry-After seconds",
            ["unavailable"],
        ),
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    },
}
# Every call that takes a body: at most 64 KiB of it.
_TOO_LARGE = {"413": _error("The request body is larger than 64 KiB", ["payload_too_large"])}

_CODE = {
    "type": "string",
    "minLength": 1,
    "maxLength": 100,
    "description": "14 characters from 23456789ABCDEFGHJKMNPQRSTUVWXYZ, the last a check character; "
    "case, spaces and dashes are ignored",
    "example": "RX9F-TR8F-7SJX-AK",
}
_MONEY = {"type": "string", "pattern": r"^\d{1,6}\.\d{2}$", "example": "88.00"}

DOCUMENT = {
    "openapi": "3.0.3",
    "info": {
        "title": "Insurance CRM partner API",
        "version": "1.0.0",
        "description": "Partner merchants look up and redeem the coupons the insurer issued for them. "
        "A partner sees only its own coupons: any other code answers as an unknown one.",
    },
    "servers": [{"url": "/api/partners/v1"}],
    "security": [{"bearer": []}],
    "paths": {
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "The OpenAPI document",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_COMMON,
                },
            }
        },
        "/coupons/{code}": {
            "get": {
                "operationId": "getCoupon",
                "summary": "Look a coupon up",
                "parameters": [{"name": "code", "in": "path", "required": True, "schema": _CODE}],
                "responses": {
                    "200": {
                        "description": "The coupon",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Coupon"}}},
                    },
                    "404": _error("No such coupon for this partner", ["not_found"]),
                    "422": _error("Not a coupon code (length, characters or check character)", ["invalid"], True),
                    **_COMMON,
                },
            }
        },
        "/redemptions": {
            "post": {
                "operationId": "redeem",
                "summary": "Redeem a coupon, exactly once",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": True,
                        "description": "Unique per redemption; the same key and body again replays the "
                        "first answer, the same key with another body is a 422",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[\\x21-\\x7e]+$"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["code"],
                                "additionalProperties": False,
                                "properties": {
                                    "code": _CODE,
                                    "amount": {
                                        **_MONEY,
                                        "description": "the amount used, at most the face value "
                                        "(default: the face value)",
                                    },
                                    "store_id": {
                                        "type": "string",
                                        "pattern": "^[A-Za-z0-9_.\\-]{1,40}$",
                                        "description": "one of the partner's store codes",
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "Redeemed (or the replay of the first answer: Idempotent-Replayed: true)",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Redemption"}}},
                    },
                    "404": _error("No such coupon for this partner", ["not_found"]),
                    "409": _error("The coupon cannot be redeemed", ["already_redeemed", "expired", "not_redeemable"]),
                    "422": _error(
                        "Invalid fields, a missing Idempotency-Key, or the key reused with another body",
                        ["invalid", "idempotency_mismatch"],
                        True,
                    ),
                    **_TOO_LARGE,
                    **_COMMON,
                },
            }
        },
        "/redemptions/{redemption_id}/void": {
            "post": {
                "operationId": "voidRedemption",
                "summary": "Void a redemption within 24 hours",
                "parameters": [
                    {
                        "name": "redemption_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                    }
                ],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 200}}}
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Voided; the coupon can be redeemed again",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Void"}}},
                    },
                    "404": _error("No such redemption for this partner", ["not_found"]),
                    "409": _error(
                        "Voided already, or the 24-hour window has closed", ["already_voided", "void_window_closed"]
                    ),
                    **_TOO_LARGE,
                    **_COMMON,
                },
            }
        },
    },
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "The partner's API key, shown once when issued",
            }
        },
        "schemas": {
            "Coupon": {
                "type": "object",
                "required": ["code", "status", "value", "currency", "expires_at"],
                "properties": {
                    "code": {"type": "string"},
                    "status": {"type": "string", "enum": ["issued", "redeemed", "expired", "voided"]},
                    "value": _MONEY,
                    "currency": {"type": "string", "example": "CNY"},
                    "expires_at": {
                        "type": "string",
                        "format": "date-time",
                        "description": "the first instant the coupon is no longer valid",
                    },
                },
            },
            "Redemption": {
                "type": "object",
                "required": ["redemption_id", "code", "redeemed_at"],
                "properties": {
                    "redemption_id": {"type": "integer"},
                    "code": {"type": "string"},
                    "redeemed_at": {"type": "string", "format": "date-time"},
                },
            },
            "Void": {
                "type": "object",
                "required": ["redemption_id", "code", "voided_at"],
                "properties": {
                    "redemption_id": {"type": "integer"},
                    "code": {"type": "string"},
                    "voided_at": {"type": "string", "format": "date-time"},
                    "coupon_status": {"type": "string"},
                },
            },
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            },
            "ValidationError": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {
                    "error": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        },
    },
}
