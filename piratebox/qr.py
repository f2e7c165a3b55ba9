"""QR codes as SVG (no Pillow needed). qrcode is imported here only, when a code is drawn."""


def svg(payload, border=2):
    import qrcode
    import qrcode.image.svg

    code = qrcode.QRCode(border=border, error_correction=qrcode.constants.ERROR_CORRECT_M,
                         image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(payload)
    code.make(fit=True)
    return code.make_image().to_string()
