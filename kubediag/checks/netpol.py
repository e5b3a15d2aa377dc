"""(checks of this stage are being written)"""
